"""Version of the kernel generator: bump it whenever the generated code changes meaning."""

CODEGEN_VERSION = "3"
