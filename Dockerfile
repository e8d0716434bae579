# Roundtable production image: Daphne (HTTP + WebSockets) by default; the same
# image runs the Celery worker and beat (see docker-compose.yml).
FROM python:3.11-slim

# settings.BASE_DIR is the folder above config/, and templates/, static/ and
# staticfiles/ live next to it: the source tree in /app must win over the copy
# that `pip install .` puts in site-packages, whatever the working directory.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MEDIA_ROOT=/var/lib/roundtable/media \
    PYTHONPATH=/app

# janus-tools (janus-pp-rec) and ffmpeg turn Janus recordings into WebM in the worker.
RUN apt-get update \
    && apt-get install -y --no-install-recommends janus-tools ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 roundtable \
    && useradd --system --uid 10001 --gid roundtable --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin roundtable

WORKDIR /app

# Dependencies first, from the lock file only, so code edits reuse this layer.
COPY requirements.lock requirements-asr.lock ./
RUN pip install -r requirements.lock
# Automatic captions (the `asr` extra, optional): skipped where it does not install.
RUN pip install -r requirements-asr.lock || echo "asr extra not installed: captions off"

COPY . .
RUN pip install --no-deps . && rm -rf build ./*.egg-info

# collectstatic runs in production mode on purpose: production uses
# CompressedManifestStaticFilesStorage, and a tree collected with the
# development storage has no staticfiles.json, so every {% static %} would fail
# with "Missing staticfiles manifest entry". The key and host below exist only
# for this build step; they are not baked into the image's environment.
RUN DJANGO_ENV=production SECRET_KEY=collectstatic-build-step-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput --verbosity 0

RUN mkdir -p /var/lib/roundtable/media \
    && chown -R roundtable:roundtable /app/staticfiles /var/lib/roundtable

USER roundtable

EXPOSE 8000
CMD ["daphne", "--bind", "0.0.0.0", "--port", "8000", "--websocket_connect_timeout", "30", "config.asgi:application"]
