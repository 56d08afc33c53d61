"""`proxyd -t -c FILE` as the config and loader tests run it: the run itself and the verdict every
case shares (exit status, "configuration OK" printed or not). Stdlib only, no side effects."""

import subprocess


def validate(proxyd_bin, config_path, expect_ok, timeout, refused_word="refused"):
    """Returns (problems, stdout, stderr); problems is empty when the exit status and the
    "configuration OK" line match expect_ok."""
    try:
        run = subprocess.run([proxyd_bin, "-t", "-c", config_path], capture_output=True, text=True,
                             errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child by its pid
        return [f"`proxyd -t -c {config_path}` did not finish within {timeout}s"], "", ""
    out, err = run.stdout, run.stderr
    problems = []
    expected_status = 0 if expect_ok else 1
    if run.returncode != expected_status:
        problems.append(f"exit status {run.returncode}, expected {expected_status}")
    if expect_ok and "configuration OK" not in out + err:
        problems.append('"configuration OK" not printed')
    if not expect_ok and "configuration OK" in out + err:
        problems.append(f'"configuration OK" printed for a {refused_word} configuration')
    return problems, out, err
