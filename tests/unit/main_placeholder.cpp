// Keeps unit_tests buildable while no *_test.cpp exists.
