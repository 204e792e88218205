#!/usr/bin/env python3
"""Opt-in check that lm-evaluation-harness's own tooling reads what `moekit eval --output_path DIR --log_samples` wrote.

Uses the functions lm-eval's loggers and scripts (zeno_visualize, the W&B and HF Hub loggers) read result folders with,
from lm_eval/utils.py: get_results_filenames, get_sample_results_filenames, get_latest_filename, get_file_task_name,
get_file_datetime, sanitize_model_name, and make_table (the table `lm_eval` prints) on the results file.

usage: crosscheck_lmeval_reader.py OUTPUT_PATH MODEL TASK
Needs `pip install lm-eval`. Prints one line per check, exits 1 when any check fails.
"""
import json
import os
import sys

import importlib.util
from crosscheck_report import check, failures, finish

# lm_eval/__init__.py imports every model backend (lm-eval 0.4.9 fails on transformers 5, which dropped
# AutoModelForVision2Seq); the readers live in lm_eval/utils.py, which needs only numpy, yaml and jinja2, so load
# that module alone.
_spec = importlib.util.find_spec("lm_eval")
if _spec is None:
    sys.exit(f"{sys.executable}: lm-eval is not installed (pip install lm-eval)")
utils_path = os.path.join(os.path.dirname(_spec.origin), "utils.py")
_utils_spec = importlib.util.spec_from_file_location("lm_eval_utils", utils_path)
utils = importlib.util.module_from_spec(_utils_spec)
_utils_spec.loader.exec_module(utils)



def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    output_path, model, task = sys.argv[1:]
    directory = os.path.join(output_path, utils.sanitize_model_name(model))
    check(os.path.isdir(directory), f"lm-eval's sanitize_model_name names the model folder {directory}")
    files = [os.path.join(directory, name) for name in sorted(os.listdir(directory))]
    results = utils.get_results_filenames(files)
    samples = utils.get_sample_results_filenames(files)
    check(len(results) == 1, f"get_results_filenames finds one results file: {results}")
    check(len(samples) == 1, f"get_sample_results_filenames finds one samples file: {samples}")
    if failures:
        sys.exit(1)
    latest = utils.get_latest_filename(results)
    check(latest == results[0], "get_latest_filename parses the results file's timestamp")
    # Both functions parse base names (lm-eval's own model folders, such as EleutherAI__pythia-160m, hold underscores).
    sample_name, result_name = os.path.basename(samples[0]), os.path.basename(results[0])
    check(utils.get_file_task_name(sample_name) == task, f"get_file_task_name({sample_name}) = {utils.get_file_task_name(sample_name)}")
    check(utils.get_file_datetime(sample_name) + ".json" == utils.get_file_datetime(result_name),
          f"results and samples files carry the same timestamp (get_file_datetime: {utils.get_file_datetime(sample_name)})")
    with open(results[0]) as f:
        report = json.load(f)
    table = utils.make_table(report)
    check(task in table and "acc" in table, "make_table renders the results:\n" + table)
    if "groups" in report:
        utils.make_table(report, "groups")
    with open(samples[0]) as f:
        records = [json.loads(line) for line in f]
    needed = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "doc_hash", "prompt_hash", "target_hash"}
    check(all(needed <= set(r) for r in records), f"{len(records)} sample records carry {sorted(needed)}")
    finish()


if __name__ == "__main__":
    main()
