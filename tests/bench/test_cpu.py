"""CPU accounting of the benchmark from /proc text: pure, no process measured."""

import pytest

from bench.cpu import children_of, growth, parse_rss_mib, parse_stat, per_shipment_ms, sample, split_apart

# A real line's layout (proc(5)): pid (comm) state ppid ... utime(14) stime(15) ...; the comm holds a space and ')'.
STAT = ("4242 (python -m x) y) S 100 4242 100 0 -1 4194560 9000 0 12 0 "
        "350 125 0 0 20 0 7 0 123456 1000000 5000 18446744073709551615")


def test_utime_and_stime_are_read_after_the_last_parenthesis():
    line = parse_stat(STAT)
    assert (line.pid, line.comm, line.ppid, line.cpu_ticks) == (4242, "python -m x) y", 100, 475)


@pytest.mark.parametrize("text", ["", "4242 python S 1", "(x) S 1 2 3", "42 (x) S 1 2"])
def test_a_line_that_is_not_a_stat_line_is_refused_naming_what_is_expected(text):
    with pytest.raises(ValueError, match="not a /proc/<pid>/stat line"):
        parse_stat(text)


def test_cpu_per_shipment_is_the_delta_over_the_completed_workflows():
    # 100 ticks per second: 250 ticks are 2,500 ms, over 10 shipments 250 ms each.
    cpu = per_shipment_ms({"worker": 1000, "api": 40, "gone": 5}, {"worker": 1250, "api": 50, "new": 9}, 10,
                          clock_ticks=100)
    assert cpu == {"api": pytest.approx(10.0), "worker": pytest.approx(250.0)}  # sampled both times only
    with pytest.raises(ValueError, match="no completed workflow"):
        per_shipment_ms({"worker": 1}, {"worker": 2}, 0)
    with pytest.raises(ValueError, match="worker: CPU ticks went backwards"):
        per_shipment_ms({"worker": 10}, {"worker": 2}, 1)


def test_partners_mail_and_driver_are_reported_apart():
    cpu = {"worker-A": 300.0, "devserver": 200.0, "sandbox": 40.0, "mail": 5.0, "driver": 20.0}
    roles = {"worker-A": "tradelane", "devserver": "temporal", "sandbox": "partners", "mail": "mail",
             "driver": "driver"}
    assert split_apart(cpu, roles) == (pytest.approx(500.0), pytest.approx(65.0))


def write_proc(root, pid: int, ppid: int, comm: str, ticks: tuple[int, int]) -> None:
    (root / str(pid)).mkdir()
    fields = ["S", str(ppid)] + ["0"] * 9 + [str(ticks[0]), str(ticks[1])] + ["0"] * 10
    (root / str(pid) / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")


def test_sampling_and_children_read_a_proc_tree(tmp_path):
    write_proc(tmp_path, 10, 1, "python", (5, 5))
    write_proc(tmp_path, 11, 10, "temporal", (70, 30))
    write_proc(tmp_path, 12, 10, "python", (1, 2))
    write_proc(tmp_path, 13, 11, "child", (0, 0))
    (tmp_path / "self").mkdir()  # not a pid: skipped
    assert sample({"driver": 10, "devserver": 11, "exited": 99}, proc=tmp_path) == {"driver": 10, "devserver": 100}
    assert [(c.pid, c.comm) for c in children_of(10, proc=tmp_path)] == [(11, "temporal"), (12, "python")]


def test_resident_memory_and_its_growth_from_few_to_many_open_shipments():
    status = "Name:\tpython\nVmHWM:\t  300000 kB\nVmRSS:\t  204800 kB\nThreads:\t9\n"
    assert parse_rss_mib(status) == pytest.approx(200.0)
    with pytest.raises(ValueError, match="no VmRSS"):
        parse_rss_mib("Name:\tkthreadd\n")
    assert growth({1000: 220.0, 100: 200.0}) == pytest.approx(0.10)
    with pytest.raises(ValueError, match="at least two levels"):
        growth({100: 200.0})
