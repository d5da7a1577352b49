"""``python -m stripe_sandbox run [--port ...]``: the sandbox's own entry point."""

from stripe_sandbox.cli import sandbox_cli

if __name__ == "__main__":
    sandbox_cli(prog_name="python -m stripe_sandbox")
