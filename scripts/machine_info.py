"""What machine a benchmark or soak ran on, for the reports (BENCHMARKS.md, RELIABILITY.md)."""
import os
import platform


def _first_field(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model():
    return _first_field("/proc/cpuinfo", "model name") or "?"


def mem_total():
    kb = _first_field("/proc/meminfo", "MemTotal")
    return "%.1f GiB" % (int(kb.split()[0]) / 1024 / 1024) if kb else "?"


def kernel():
    return "%s %s" % (platform.system(), platform.release())


def cpus():
    return os.cpu_count() or 0
