# The endpoint's worker: a runpod-python handler. Input {"name": "Ada"} gives {"greeting": "Hello, Ada!"}.
import runpod


def handler(job):
    name = (job.get("input") or {}).get("name", "world")
    return {"greeting": f"Hello, {name}!"}


runpod.serverless.start({"handler": handler})
