"""Run by tests/test_bench.py as a child process: touch 300 MB, so its peak RSS is known."""

ballast = bytearray(300 * 2**20)
ballast[::4096] = b"x" * len(ballast[::4096])
