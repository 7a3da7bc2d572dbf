"""benchlib - the orchestration half of postern's benchmark harness.

bench/run is the entry point; the load generators are C programs in
bench/loadgen/. Standard library only (Debian's /usr/bin/python3).
"""
