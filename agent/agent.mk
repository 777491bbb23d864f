# Agent build rules (MPI, NCCL, CUDA), included by the top Makefile.
.PHONY: check-agent install-agent
check-agent:
	@echo "agent: no tests yet"
install-agent:
	install -m 644 $(CORE_LIB) $(DESTDIR)$(PREFIX)/lib/
