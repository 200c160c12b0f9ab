"""The gateway benchmark (`make bench`, `make bench-smoke`): see __main__.py and
docs/PERFORMANCE.md.

    __main__.py   options, the machine's facts, the JSON file and the report
    run.py        one invocation: databases, stub, LiteLLM, gunicorn, every measurement
    load.py       wrk (request.lua) at a concurrency, CPU per request, the rate search
    targets.py    the requests sent: the app's assist call, direct calls, GETs
    inprocess.py  the steps that run inside Django: fixtures, SQL per request, budget check
    databases.py  bench databases: create, migrate, fill, reset
    litellm.py    the integration suite's real LiteLLM proxy, in front of the stub
    processes.py  process groups, gunicorn, /proc (CPU, memory)
    profile.py    py-spy on the workers, and what its samples add up to
    figures.py    overheads per run, medians, the targets
    report.py     the Markdown report
"""
