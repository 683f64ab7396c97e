"""The README's `temporal` CLI examples, copied out of README.md and run with the real binary (issue 19, point 11)."""

import asyncio
import re
import shlex
from pathlib import Path

from infra.platform.settings import DEV_API_KEYS
from tests.support import load_example, unique_id

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_command(name: str) -> list[str]:
    """The README's `temporal workflow <name> ...` example as argv (its line continuations joined)."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    found = [b for b in blocks if b.startswith(f"temporal workflow {name} ")]
    assert len(found) == 1, f"one `temporal workflow {name}` example in README.md, found {len(found)}"
    return shlex.split(found[0].replace("\\\n", " "))


def localised(argv: list[str], dev_server, api_url: str, shipment_id: str) -> list[str]:
    """The example pointed at this test's dev server, API and shipment; every other flag as the README has it."""
    out = [dev_server.cli_path, *argv[1:], "--address", dev_server.address]
    out[out.index("--workflow-id") + 1] = f"shipment:{shipment_id}"
    endpoint = out.index("--codec-endpoint") + 1
    out[endpoint] = out[endpoint].replace("http://127.0.0.1:8000", api_url)
    return out


async def test_the_readme_update_refusal_reads_as_a_refusal(harness, dev_server, webhook_api):
    """Finding (issue 19): the README's `temporal workflow update execute` refused a gate that is not pending with
    "Encoded failure": Tradelane's failure converter encrypts failure messages and only a codec can read them. The
    example carries the codec flags, and the CLI then prints the refusal itself."""
    argv = readme_command("update execute")
    assert "--codec-endpoint" in argv and "--codec-auth" in argv
    assert argv[argv.index("--codec-auth") + 1] == f"Bearer {DEV_API_KEYS['ops']}"
    shipment_id = unique_id("readme-update")
    await harness.start(load_example("high-value-us-jp.json", shipment_id))
    await harness.until_held(shipment_id)
    # The README decides the high_value gate; here a packaging decision, a gate that is not pending, is refused.
    argv[argv.index("--input") + 1] = argv[argv.index("--input") + 1].replace('"high_value"', '"packaging"')
    process = await asyncio.create_subprocess_exec(
        *localised(argv, dev_server, webhook_api.url, shipment_id),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    output = (stdout + stderr).decode()
    assert process.returncode != 0, output
    assert "Encoded failure" not in output
    assert "packaging" in output and "not pending" in output, output

    # Without the codec flags, what the finding saw: the refusal's text stays encrypted.
    bare = localised(argv, dev_server, webhook_api.url, shipment_id)
    for flag in ("--codec-endpoint", "--codec-auth"):
        del bare[bare.index(flag):bare.index(flag) + 2]
    process = await asyncio.create_subprocess_exec(*bare, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    assert process.returncode != 0 and "Encoded failure" in (stdout + stderr).decode()
    await harness.handle(shipment_id).terminate("test over")
