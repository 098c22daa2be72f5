# NATS JetStream from Debian's nats-server package.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nats-server curl \
    && rm -rf /var/lib/apt/lists/*
COPY nats.conf /etc/nats/nats.conf
EXPOSE 4222 8222
ENTRYPOINT ["nats-server", "-c", "/etc/nats/nats.conf"]
