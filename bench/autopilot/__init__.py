"""The Autopilot queue benchmark (`make bench-autopilot`): see __main__.py and
docs/PERFORMANCE.md, "Autopilot queue".

    __main__.py   options, the overall timeout, the machine's facts, the JSON file, the report
    run.py        the database, the stub, the `manage.py db_worker` processes and each part:
                  throughput, the queue's own cost, fairness, a worker killed mid-run
    inprocess.py  the steps that run inside Django: fixtures, job_create, the in-process worker
    meter.py      what the in-process worker is measured by: statements, CPU, by side and kind
    cpu.py        CPU by component (workers, PostgreSQL, stub, the rest) from /proc
    report.py     the Markdown report

It reuses the gateway benchmark's helpers (bench/gateway/databases.py, processes.py) and its
stub LLM (bench/stub_llm.py).
"""
