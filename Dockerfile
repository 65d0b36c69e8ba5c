# mock-omni as a container: `docker-compose up mock` (see docker-compose.yml) or
#   docker build -t mock-omni . && docker run -p 127.0.0.1:8080:8080 mock-omni
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MOCK_OMNI_PORT=8080

RUN useradd --create-home --uid 10001 mock

# Installed from this source tree, then the tree is dropped: the image holds only the installed package.
COPY pyproject.toml README.md /src/
COPY mock_omni /src/mock_omni
RUN pip install /src && rm -rf /src

USER mock
WORKDIR /home/mock
EXPOSE 8080

# No curl in the image: the healthcheck is a Python one-liner against the health endpoint.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/__admin/health' % os.environ.get('MOCK_OMNI_PORT', '8080'), timeout=2)"]

# Inside a container the mock must listen on all interfaces; publish the port on 127.0.0.1 only.
CMD ["mock-omni", "serve", "--host", "0.0.0.0"]
