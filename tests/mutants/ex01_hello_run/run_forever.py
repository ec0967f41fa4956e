"""Runs the greetings with the tutorial's `loop.run_forever()`: nothing ever stops the loop, so
main never returns (the loop has nothing left to do and waits forever).

Must fail: test_main_greets_concurrently, test_main_keeps_input_order
"""
import asyncio
async def greet(name, delay):
    await asyncio.sleep(delay)
    return f"Hello, {name}!"
def main(names, delay=0.1):
    loop = asyncio.new_event_loop()
    tasks = [loop.create_task(greet(n, delay)) for n in names]
    loop.run_forever()
    return [t.result() for t in tasks]
