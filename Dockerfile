# One image for Tradelane's processes; docker-compose.yml picks the command (worker, api, sandbox).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# DejaVu Sans is embedded in the commercial invoice and packing list PDFs.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml constraints.txt README.md alembic.ini worker.py ./
COPY tradelane ./tradelane
COPY infra ./infra
COPY workflows ./workflows
COPY activities ./activities
COPY starter ./starter
COPY sandbox ./sandbox
COPY devstack ./devstack
COPY examples ./examples
RUN pip install --no-cache-dir -c constraints.txt '.[postgres]' \
    && useradd --create-home --uid 10001 tradelane
USER tradelane
CMD ["tradelane", "--help"]
