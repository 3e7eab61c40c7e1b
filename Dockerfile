# DataPack server image.
#
#   docker build -t datapack .
#   docker run -d --name datapack -p 50051:50051 -p 9090:9090 -v datapack-data:/data datapack
#
# Serves every store under the /data volume on 0.0.0.0:50051 (gRPC) and
# Prometheus metrics, /healthz and /readyz on 9090, plaintext and without
# tokens: publish the ports only to trusted networks, or add --token-file and
# --tls-cert/--tls-key (README: Secure deployment) by overriding the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The package with the server and metrics extras (grpcio, numpy and orjson ship
# manylinux wheels: no compiler needed); the source is not kept in the image.
WORKDIR /tmp/datapack-src
COPY pyproject.toml README.md ./
COPY client ./client
COPY server ./server
RUN pip install ".[server,metrics]" && cd / && rm -rf /tmp/datapack-src

# An unprivileged user of its own owning the data directory (mode 0700).
RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin datapack \
    && mkdir -p /data && chown datapack:datapack /data && chmod 0700 /data
USER datapack
WORKDIR /data
VOLUME ["/data"]

EXPOSE 50051 9090

# The standard gRPC health service: SERVING once every store is loaded (a large
# store without an index snapshot takes seconds to index at start-up).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["datapack", "health", "--target", "127.0.0.1:50051", "--timeout", "3", "--quiet"]

# SIGTERM (docker stop) drains calls within --grace; docker waits 10 s by default.
STOPSIGNAL SIGTERM
ENTRYPOINT ["datapack"]
CMD ["serve", "--host", "0.0.0.0", "--port", "50051", "--data-dir", "/data", "--metrics-port", "9090", "--grace", "8"]
