"""Tell the people who must act: alerts and digests to Feishu/Lark, WeCom, DingTalk, Slack and
e-mail, decided from the run store so nothing is sent twice.

The package, lowest first::

    config.py    the ``notify:`` config section (part of sync.config; no I/O)
    owners.py    the owner directory: 负责人 -> mobile / email / feishu_open_id / slack_id
    decide.py    pure: which alerts open, remind or close, which digests are due
    message.py   pure: a Message (title, sections of task lines, mentions, links) per locale
    channels.py  one class per platform: render a Message to that platform's payloads (size
                 limits respected) and send one (signing, the platform's error codes)
    deliver.py   the run's side: decide from the store, record, send with tenacity retries and
                 per-channel rate limits, record the outcome; a failing channel never fails a run

Nothing here is imported by ``tracker-sync --help``: :mod:`sync.run` and :mod:`sync.cli` import
it inside the functions that need it (requests and smtplib load only when a message goes out).
"""
