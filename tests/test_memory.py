"""refgc.memory: freed arrays stay with the process instead of page-faulting back in."""

import platform
import subprocess
import sys

import pytest

CODE = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from refgc.memory import keep_freed_memory
    assert keep_freed_memory() and keep_freed_memory()  # once, and it says so again
def step():  # an evaluation's pattern: several arrays of a few MB, all freed before the next
    arrays = [np.ones(1 << 18) for _ in range(8)]  # 8 x 2 MB
    del arrays
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_arrays_are_reused_without_page_faults():
    def faults(mode):
        return int(subprocess.run([sys.executable, "-c", CODE, mode], check=True, capture_output=True,
                                  text=True).stdout)

    pages = 20 * 8 * (2 << 20) // 4096  # every page of every array, were each one fresh
    assert faults("plain") > pages // 2  # what the tuning is for: glibc hands the memory back
    assert faults("tuned") < pages // 20
