"""awaitlings grader: grades asyncio exercises in a sandbox and explains what went wrong."""
