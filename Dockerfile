FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN DJANGO_READ_DOT_ENV_FILE=false python manage.py collectstatic --no-input \
 && useradd --create-home --uid 10001 keybuzz

USER keybuzz
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "keybuzz.healthcheck"]

# gunicorn binds 0.0.0.0:$PORT; workers come from WEB_CONCURRENCY and the timeout from
# GUNICORN_TIMEOUT (gunicorn.conf.py).
# Run `python manage.py migrate` once per release, before starting the new containers.
CMD ["gunicorn", "keybuzz.wsgi:application"]
