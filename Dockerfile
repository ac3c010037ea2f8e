# A plain image of the appliance. Default Docker seccomp refuses io_uring;
# callplane then runs its epoll backend and says so in the log.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libopus-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libopus0 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/callplane /usr/local/bin/callplane
VOLUME /var/lib/callplane
EXPOSE 5060/udp 20000-29999/udp
ENTRYPOINT ["callplane"]
CMD ["serve", "--listen", "0.0.0.0:5060", "--data-dir", "/var/lib/callplane"]
