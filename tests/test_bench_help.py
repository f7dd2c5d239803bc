"""Every option of every benchmark script says what it is, and its default where it has one."""

import argparse
import sys

import pytest

from conftest import benchmark_module

SCRIPTS = ["bench_accuracy", "bench_deep", "bench_features", "bench_fit", "bench_grouped", "bench_loading",
           "bench_photos", "bench_predict", "bench_samplers", "bench_scale", "bench_svm", "naive_fit"]


class Parsed(Exception):
    pass


def _parser(name, monkeypatch) -> argparse.ArgumentParser:
    def parse_args(self, *args, **kwargs):
        raise Parsed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_args)
    monkeypatch.setattr(sys, "argv", [f"{name}.py"])
    bench = benchmark_module(name)
    with pytest.raises(Parsed) as parsed:
        try:
            bench.main([])
        except TypeError:  # a main that reads sys.argv
            bench.main()
    return parsed.value.args[0]


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_option_has_help_and_its_default(name, monkeypatch):
    """bench_fit's --data/--sizes/--out, bench_svm's --data/--backends/--out, bench_scale's --mode/--workers/
    --n-components/--chunk-size, bench_deep's part/--patience/--probe-steps... had no help; others hid defaults."""
    parser = _parser(name, monkeypatch)
    silent, no_default = [], []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name_ = action.option_strings[-1] if action.option_strings else action.dest
        if not action.help:
            silent.append(name_)
        elif (action.option_strings and action.default not in (None, False, []) and action.nargs != 0
              and "default" not in action.help):
            no_default.append(name_)
    assert not silent, f"without help: {silent}"
    assert not no_default, f"default not shown: {no_default}"
