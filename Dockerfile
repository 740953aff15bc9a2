# The gateway in a container: the published single-file binary on .NET's minimal runtime-dependencies image, as a
# non-root user, with the embedded log in a volume. Build the binary first, then the image:
#   scripts/publish --rid linux-x64 --no-tarball    (and/or --rid linux-arm64)
#   docker build -t sluice .                        (docker buildx build --platform linux/arm64 ... for arm64)
#   docker run -p 8080:8080 -v sluice-data:/var/lib/sluice sluice
ARG TARGETARCH=amd64

# The binary of the image's architecture (BuildKit builds only the stage it needs, so one of them may be missing).
FROM scratch AS bin-amd64
COPY artifacts/linux-x64/sluice /sluice
FROM scratch AS bin-arm64
COPY artifacts/linux-arm64/sluice /sluice
FROM bin-${TARGETARCH} AS bin

FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble

COPY --from=bin /sluice /usr/local/bin/sluice

# The image's non-root user (APP_UID, 1654) owns the data directory; a config file mounted at
# /etc/sluice/sluice.yaml is found by itself (it is the working directory). The Kafka backend's librdkafka is inside
# the binary and unpacked at first start into DOTNET_BUNDLE_EXTRACT_BASE_DIR.
RUN mkdir -p /var/lib/sluice /etc/sluice && chown "$APP_UID" /var/lib/sluice
WORKDIR /etc/sluice
USER $APP_UID
ENV SLUICE_DATADIR=/var/lib/sluice \
    SLUICE_BIND=0.0.0.0 \
    DOTNET_BUNDLE_EXTRACT_BASE_DIR=/var/lib/sluice/.bundle
VOLUME /var/lib/sluice
EXPOSE 8080
# SIGTERM stops the gateway gracefully (docker stop: give it --time 45).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sluice", "serve"]
