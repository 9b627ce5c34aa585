"""The HTTP service of ``autoencode serve``: request bodies to images (``uploads``), requests
batched on the model (``batching``), runs as the service holds them (``served``), and the ASGI
application (``app``: FastAPI on Starlette, served by uvicorn). Needs the ``[serve]`` extra."""
