# The README's PyTorch example is examples/python/quickstart.py, which the GPU run executes: keep them one text.
import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_readme_python_example_is_the_quickstart_file():
    readme = open(os.path.join(ROOT, "README.md")).read()
    quickstart = open(os.path.join(ROOT, "examples", "python", "quickstart.py")).read()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks and blocks[0] == quickstart
    assert len(quickstart.strip().splitlines()) <= 10
