"""scripts/load.py's verdict: any 5xx answer fails the run, as docs/local-stack.md says."""

from __future__ import annotations

from scripts.load import LoadRun, Submission, render, summarise

JOB = {"status": "succeeded", "attempts": 1, "created_at": "2026-01-01T00:00:00Z",
       "updated_at": "2026-01-01T00:00:01Z"}  # fmt: skip


def run_with(*statuses: int) -> LoadRun:
    run = LoadRun("http://127.0.0.1:1", "key", clients=1, duration=10, repeat_every=0)
    for n, status in enumerate(statuses):
        job_id = f"j{n}" if status == 202 else None
        run.submissions.append(Submission(float(n), 0.01, status, job_id, f"k{n}"))
    return run


def test_a_run_of_accepted_jobs_is_correct() -> None:
    run = run_with(202, 202)
    report = summarise(run, {"j0": JOB, "j1": JOB}, 0.0)
    assert report.correct and report.server_errors == 0


def test_a_single_5xx_fails_the_run() -> None:
    run = run_with(202, 503)
    report = summarise(run, {"j0": JOB}, 0.0)
    assert report.server_errors == 1
    assert not report.correct
    assert "FAILED" in render(report)


def test_a_job_that_ends_failed_fails_the_run() -> None:
    """An echo job always succeeds: one that ends failed (dead-lettered, say) was dropped."""
    run = run_with(202, 202)
    dead_lettered = {**JOB, "status": "failed"}
    report = summarise(run, {"j0": JOB, "j1": dead_lettered}, 0.0)
    assert report.terminal == 2 and report.failed == 1
    assert not report.correct
    rows = dict(line.split("  ", 2)[1:] for line in render(report).splitlines()[1:-1])
    assert rows["failed (not succeeded)"].strip() == "1"
