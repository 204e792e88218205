#!/usr/bin/env python3
"""Checks every schema in Schemas/ with Python's jsonschema (the reference implementation) and validates the
recipe files in Converters/, the task files in Tasks/ and the example plans in Plans/ (JSON, and YAML read with PyYAML)
against them. Usage: crosscheck_schemas.py REPO_ROOT"""
import glob
import json
import os
import sys

import jsonschema

root = sys.argv[1]
schemas = {}
for path in sorted(glob.glob(os.path.join(root, "Schemas", "*.schema.json"))):
    with open(path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    schemas[os.path.basename(path)] = schema

def validate(document_path, schema_name):
    with open(document_path) as f:
        if document_path.endswith((".yaml", ".yml")):
            import yaml  # PyYAML; only the YAML plans need it
            document = yaml.safe_load(f)
        else:
            document = json.load(f)
    jsonschema.Draft202012Validator(schemas[schema_name]).validate(document)

for path in sorted(glob.glob(os.path.join(root, "Converters", "*.json"))):
    validate(path, "recipe.schema.json")
validate(os.path.join(root, "Converters", "tokenizers", "pre-tokenizers.json"), "pre-tokenizers.schema.json")
tasks = sorted(glob.glob(os.path.join(root, "Tasks", "*.json")))
for path in tasks:
    validate(path, "task.schema.json")
plans = sorted(glob.glob(os.path.join(root, "Plans", "*.json")) + glob.glob(os.path.join(root, "Plans", "*.yaml")))
for path in plans:
    validate(path, "plan.schema.json")
print(f"ok: {len(schemas)} schemas, recipes, {len(tasks)} task files and {len(plans)} plans valid")
