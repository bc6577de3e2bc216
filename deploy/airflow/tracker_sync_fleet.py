"""Airflow DAG: the tracker-sync fleet, one mapped task per shard, one pool per credential.

Copy to the DAGs folder of an Airflow (2.4+ or 3.x) whose workers have ``tracker-sync``
installed. Each credential's trackers are a manifest of their own; its shards are mapped tasks
(dynamic task mapping) in the credential's pool, a pool of ONE slot, so that credential's shards
run one after another and each may use the whole per-user quota (60 requests per minute):

    airflow pools set tracker-sync-bot 1 "tracker-sync: the bot@ service account"

A shard's exit code is its worst tracker's (3: a tracker could not be synced), so a failed task
names the shard to look at; ``--json`` in its log lists every tracker's outcome.
"""

from __future__ import annotations

import datetime as dt

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.bash import BashOperator

#: credential -> its manifest, its pool (1 slot) and how many shards split its trackers
CREDENTIALS = {
    "bot": {
        "manifest": "/opt/tracker-sync/fleet-bot.yaml",
        "pool": "tracker-sync-bot",
        "shards": 4,
    },
}

with DAG(
    dag_id="tracker_sync_fleet",
    schedule="*/30 * * * *",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # never two fleet runs at once
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=2)},
    tags=["tracker-sync"],
) as dag:
    for name, cred in CREDENTIALS.items():
        shards = int(cred["shards"])
        BashOperator.partial(
            task_id=f"fleet_{name}",
            pool=str(cred["pool"]),
            execution_timeout=dt.timedelta(minutes=25),
        ).expand(
            bash_command=[
                f"tracker-sync fleet run -f {cred['manifest']} --shard {i}/{shards} --json"
                for i in range(shards)
            ]
        )
