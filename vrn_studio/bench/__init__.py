"""Benchmarks: every pipeline stage timed, the naive baseline beside the optimised path (Qt-free).

Run with ``vrn-studio benchmark`` or ``python benchmarks/run.py``; see docs/benchmarks.md.
"""

from vrn_studio.bench.live import LatestFrame, run_live, write_test_video
from vrn_studio.bench.measure import Stats, environment, time_call
from vrn_studio.bench.report import format_markdown, format_summary
from vrn_studio.bench.runner import choose_fastest, result_file_name, run_benchmark
from vrn_studio.bench.suite import STAGES, faithfulness
from vrn_studio.bench.synthetic import SyntheticHeadVRN, head_logits, head_volume

__all__ = [
    "STAGES",
    "LatestFrame",
    "Stats",
    "SyntheticHeadVRN",
    "choose_fastest",
    "environment",
    "faithfulness",
    "format_markdown",
    "format_summary",
    "head_logits",
    "head_volume",
    "result_file_name",
    "run_benchmark",
    "run_live",
    "time_call",
    "write_test_video",
]
