#!/usr/bin/python3
"""The generated rules JSON Schema accepts every valid rules file of the repo and
rejects typical mistakes (unknown filter, unknown parameter, two time keys...).

Usage: schema_test.py RETARGET_CLI PLUGIN_DIR SOURCE_DIR
"""
import datetime
import glob
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml

cli, plugin_dir, source = sys.argv[1:4]


def plain(x):
    """PyYAML turns dates into objects; the engine (and JSON) sees strings."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [plain(v) for v in x]
    if isinstance(x, (datetime.date, datetime.datetime)):
        return x.isoformat()
    return x


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "schema.json")
    subprocess.run([cli, "--data-dir", ":memory:", "--plugins", plugin_dir, "--catalog", os.path.join(source, "examples/data/catalog.yaml"),
                    "schema", "--output", out], check=True)
    schema = json.load(open(out))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)

failures = 0
valid = [os.path.join(source, "rules/examples.yaml")] + sorted(glob.glob(os.path.join(source, "tests/integration/cases/*/rules.yaml")))
for path in valid:
    errors = list(validator.iter_errors(plain(yaml.safe_load(open(path)))))
    if errors:
        failures += 1
        print(f"FAIL {path}: a valid rules file is rejected: {errors[0].message[:300]}")
    else:
        print(f"ok   {path}")

invalid = {
    "unknown filter": {"recieved_campaign": {"campaign": "spring_sale"}},
    "unknown parameter": {"received_campaign": {"campaign": "spring_sale", "hav": True}},
    "two time keys": {"last_received_email": {"more_than_days_ago": 3, "blank": True}},
    "no time key": {"last_received_email": {}},
    "wrong type": {"received_campaign": {"campaign": "spring_sale", "have": "yes"}},
    "action not allowed": {"clicked_opened_campaign": {"campaign": "spring_sale", "action": "clicked"}},
    "two keys in a node": {"all": [{"hard_bounced": {}}], "any": [{"hard_bounced": {}}]},
}
for name, node in invalid.items():
    doc = {"version": 1, "segments": [{"id": "s", "match": node}]}
    if validator.is_valid(doc):
        failures += 1
        print(f"FAIL the schema accepts an invalid node ({name}): {node}")
    else:
        print(f"ok   rejects {name}")

# A mistyped filter name is reported as such (what an editor shows), with the
# valid names, not only as "matches none of the choices".
doc = {"version": 1, "segments": [{"id": "s", "match": {"recieved_campaign": {"campaign": "spring_sale"}}}]}
named = [e for e in validator.iter_errors(doc) if e.message.startswith("'recieved_campaign' is not one of")]
if named and "'received_campaign'" in named[0].message:
    print("ok   a mistyped filter name is an error about the name, listing the valid ones")
else:
    failures += 1
    print(f"FAIL a mistyped filter name: {[e.message[:200] for e in validator.iter_errors(doc)]}")
extra_checks = 1

passed = len(valid) + len(invalid) + extra_checks - failures
print(f"{passed} passed, {failures} failed")
sys.exit(1 if failures else 0)
