# CloudCostGuard: `cloudcostguard run` (operator + admission webhook + metrics + probes).
#   docker build -t cloudcostguard:latest .
# Slim: only the package and its runtime dependencies, no compilers, no build tools, no tests.
# Non-root: a fixed numeric user (the restricted Pod Security Standard checks runAsNonRoot by UID).

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/cloudcostguard
COPY pyproject.toml README.md /src/
COPY operator /src/operator
RUN /opt/cloudcostguard/bin/pip install /src \
 && find /opt/cloudcostguard -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim-bookworm
ENV PATH=/opt/cloudcostguard/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/cloudcostguard /opt/cloudcostguard
USER 65532:65532
# metrics, probes, admission webhook (CCG_METRICS_LISTEN, CCG_HEALTH_LISTEN, CCG_WEBHOOK_LISTEN)
EXPOSE 8080 8081 9443
ENTRYPOINT ["cloudcostguard"]
CMD ["run", "--all-namespaces"]
