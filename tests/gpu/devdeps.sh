# Sourced by the GPU scripts (run.sh, torch.sh) from the repository root: what every
# run on the GPU machine needs first. That machine lacks the libyaml, jansson and Check
# headers; they come as .deb files in .devdeps (../shared/device/README.md), unpacked to
# /tmp/deps, never into /, and reach make through CPPFLAGS and LDFLAGS. Root is the
# user there, and NVLink multicast stays off.
if compgen -G ".devdeps/*.deb" >/dev/null; then
    mkdir -p /tmp/deps
    for f in .devdeps/*.deb; do dpkg -x "$f" /tmp/deps; done
    export CPPFLAGS="-I/tmp/deps/usr/include"
    export LDFLAGS="-L/tmp/deps/usr/lib/x86_64-linux-gnu -Wl,-rpath,/tmp/deps/usr/lib/x86_64-linux-gnu"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
