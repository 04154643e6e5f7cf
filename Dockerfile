# Quotient's image: the scheduler (`quotient run`), the API (`quotient serve`), the webhook
# (`quotient webhook`) and the reservation pods' command are one package, one image.
# Build: docker build -t ghcr.io/quotient/quotient:0.1.0 .   (PostgreSQL driver included)
FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fairshare fairshare
COPY scheduler scheduler
COPY api api
COPY simulations simulations
COPY quotient quotient
RUN python -m venv /opt/quotient && /opt/quotient/bin/pip install --no-compile '.[postgres]' \
    && /opt/quotient/bin/python -m compileall -q /opt/quotient/lib

FROM python:3.12-slim
# A fixed numeric user, so runAsNonRoot can be checked by the kubelet without a name lookup.
RUN groupadd --system --gid 10001 quotient \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin quotient
COPY --from=build /opt/quotient /opt/quotient
ENV PATH=/opt/quotient/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["quotient"]
CMD ["--help"]
