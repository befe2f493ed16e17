"""The dashboard's pass-rate chart lists every recent run, newest included, measured or not."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from models.assets import Asset, QualityReport
from models.base import RunMode, Stage, WorkState, utcnow
from models.runs import Candidate, Job, Run
from services.review import qa_stats


def test_the_newest_runs_are_counted_and_none_is_left_out(sessions, demo) -> None:
    start = utcnow() - timedelta(days=1)
    with sessions() as s:
        ids = []
        for i in range(35):
            run = Run(project_id=demo.id, stage=Stage.style, mode=RunMode.run, status=WorkState.done)
            run.created_at = start + timedelta(minutes=i)
            s.add(run)
            s.flush()
            ids.append(run.id)
        job = Job(project_id=demo.id, run_id=ids[-1])
        s.add(job)
        s.flush()
        image = s.exec(select(Asset)).first()  # any image will do: the chart reads the verdicts only
        for k, verdict in enumerate(('pass', 'fail', 'pass')):
            cand = Candidate(project_id=demo.id, run_id=ids[-1], job_id=job.id, index=k, seed=k)
            s.add(cand)
            s.flush()
            s.add(QualityReport(project_id=demo.id, asset_id=image.id, candidate_id=cand.id, verdict=verdict))
        s.add(Run(project_id=demo.id, stage=Stage.style, mode=RunMode.dry, status=WorkState.planned))
    with sessions() as s:
        rows = qa_stats.pass_rate_per_run(s, demo.id)
    assert [r['run_id'] for r in rows] == ids[-30:]  # the newest 30, oldest first; plans are not runs
    assert rows[-1]['measured'] == 3 and rows[-1]['passed'] == 2 and rows[-1]['pass_rate'] == 0.667
    assert rows[0]['pass_rate'] is None and rows[0]['measured'] == 0  # listed though nothing was measured
    assert len({r['run'] for r in rows}) == 30  # every label is distinct
