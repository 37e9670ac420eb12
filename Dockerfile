# One image for web, workers and beat. The GPU training worker is the same code built with a CUDA
# torch wheel: `docker compose --profile gpu build` passes TORCH_INDEX (see README, "Scaling out").
FROM python:3.11-slim-bookworm
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0 \
 && pip install -r requirements.txt
COPY . .
RUN DEBUG=1 python manage.py collectstatic --no-input -v 0
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
