# Build: docker build -t sms-bridge .
# Run:   docker run --rm -v "$PWD/data:/data" sms-bridge        (first run writes data/config.yaml)
#        docker run --rm -v "$PWD/data:/data" sms-bridge -g     (writes data/registration.yaml)
#        docker run -d --name sms-bridge -v "$PWD/data:/data" -p 127.0.0.1:29330:29330 sms-bridge

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them. Cargo refuses a manifest whose
# declared targets are missing, so the benches Cargo.toml names come along.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY config.example.yaml ./
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 1337 sms-bridge \
    && useradd --system --uid 1337 --gid 1337 --home-dir /data --no-create-home --shell /usr/sbin/nologin sms-bridge \
    && mkdir /data && chown sms-bridge:sms-bridge /data
COPY --from=build /src/target/release/sms-bridge /usr/local/bin/sms-bridge
COPY docker/run.sh /usr/local/bin/run.sh
# run.sh starts as root only to pick the user that owns /data (uid 1337 unless /data
# belongs to someone else), then runs the bridge as that user, never as root.
VOLUME /data
EXPOSE 29330
ENTRYPOINT ["/usr/local/bin/run.sh"]
