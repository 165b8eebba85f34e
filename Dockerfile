# Build: docker build -t sms-bridge .
# Run:   docker run --rm -v "$PWD/data:/data" sms-bridge        (first run writes data/config.yaml)
#        docker run --rm -v "$PWD/data:/data" sms-bridge -g     (writes data/registration.yaml)
#        docker run -d --name sms-bridge -v "$PWD/data:/data" -p 29330:29330 sms-bridge

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs config.example.yaml \
    && cargo build --release --locked \
    && rm -rf src
COPY config.example.yaml ./
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 1337 --home-dir /data sms-bridge \
    && mkdir /data && chown sms-bridge /data
COPY --from=build /src/target/release/sms-bridge /usr/local/bin/sms-bridge
COPY docker/run.sh /usr/local/bin/run.sh
USER sms-bridge
VOLUME /data
EXPOSE 29330
ENTRYPOINT ["/usr/local/bin/run.sh"]
