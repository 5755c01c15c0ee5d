# berth — build, test, install.  `make test` is what CI runs (.ci/run).
SHELL      := /bin/bash
SWIFT      ?= swift
PREFIX     ?= /usr/local
BUILD_FLAGS ?=
# Debian packages the build and the tests need; `make deps` installs the missing ones.
APT_PACKAGES = libyaml-dev pkg-config groff-base mandoc busybox-static libseccomp-dev libarchive-dev nftables \
               docker-registry skopeo umoci apache2-utils openssl python3-venv
# kubernetes-validate (PyPI) checks `kube generate`'s YAML offline against the Kubernetes schemas.
KUBE_VENV     = .build/kube-venv
KUBE_VALIDATE = $(KUBE_VENV)/bin/kubernetes-validate

.PHONY: all build release test deps install demo clean man kube-validate

all: build

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi; \
	fi

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

# Into .build/kube-venv; if PyPI cannot be reached, the validation tests skip and say so.
kube-validate: deps
	@[ -x $(KUBE_VALIDATE) ] || { python3 -m venv $(KUBE_VENV) && $(KUBE_VENV)/bin/pip install -q kubernetes-validate==1.37.0; } \
	  || { rm -rf $(KUBE_VENV); echo "kubernetes-validate could not be installed: the kube generate validation tests will skip"; }

# Release builds link the Swift runtime and Foundation statically: a berth process then
# starts in ~2.9 ms instead of ~6.6 ms, which every container start and CLI call pays.
RELEASE_FLAGS = -c release --static-swift-stdlib

release: deps
	$(SWIFT) build $(RELEASE_FLAGS) $(BUILD_FLAGS)

# The whole suite: unit, root-tier (skipped with a reason when not root) and end-to-end tests.
# The failures are repeated at the end: CI shows only the tail of a long log.
test: deps kube-validate
	$(SWIFT) build $(BUILD_FLAGS)
	@set -o pipefail; BERTH_BINARY=$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/berth KUBERNETES_VALIDATE=$(abspath $(KUBE_VALIDATE)) \
	  $(SWIFT) test $(BUILD_FLAGS) 2>&1 | tee .build/test.log || { \
	  echo "---- failures (full log: .build/test.log) ----"; \
	  grep -E '✘|error:|recorded an issue|Fatal|Crash' .build/test.log | tail -60; exit 1; }

install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/berth $(DESTDIR)$(PREFIX)/bin/berth
	install -m 0755 $$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/berth-runtime $(DESTDIR)$(PREFIX)/bin/berth-runtime
	for page in man/*.1; do install -m 0644 $$page $(DESTDIR)$(PREFIX)/share/man/man1/; done
	for page in man/*.5; do install -m 0644 $$page $(DESTDIR)$(PREFIX)/share/man/man5/; done
	for page in man/*.8; do [ -e "$$page" ] && install -m 0644 $$page $(DESTDIR)$(PREFIX)/share/man/man8/ || true; done

# The first-run path: build, import a busybox image if the store has none (offline, from
# Debian's busybox-static), bring samples/web-worker up and show it. Needs root.
demo: build
	BERTH=$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/berth ./samples/demo.sh

# Regenerate the command pages from the command registry (berth-compose.5 is written by hand).
man: build
	$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/berth help --generate-man man

clean:
	rm -rf .build
