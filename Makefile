# Builds and installs the library like a C library:
#   make                          the release build (.so and .a)
#   make install PREFIX=/opt/zma  .so (SONAME with the ABI version), .a,
#                                 header and pkg-config file
#   make header                   regenerates include/zeek_mgmt_agent.h
#   make examples                 the C and C++ hosts, against target/release
# Then: cc host.c $(pkg-config --cflags --libs zeek-mgmt-agent)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CARGO ?= cargo
CC ?= cc
CXX ?= c++

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ABI := $(shell sed -n 's/^pub const ZMA_ABI_VERSION: u32 = \([0-9]*\);/\1/p' src/ffi.rs)
LIB := libzeek_mgmt_agent
# What the static library needs from the system (cargo rustc --print
# native-static-libs on Linux).
NATIVE_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
WARN := -Wall -Wextra -Werror -pedantic

.PHONY: all build install uninstall header examples examples-asan clean-examples

all: build

build:
	$(CARGO) build --release --lib

install: build
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 target/release/$(LIB).so $(DESTDIR)$(LIBDIR)/$(LIB).so.$(VERSION)
	ln -sf $(LIB).so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB).so.$(ABI)
	ln -sf $(LIB).so.$(ABI) $(DESTDIR)$(LIBDIR)/$(LIB).so
	install -m 0644 target/release/$(LIB).a $(DESTDIR)$(LIBDIR)/$(LIB).a
	install -m 0644 include/zeek_mgmt_agent.h $(DESTDIR)$(INCLUDEDIR)/zeek_mgmt_agent.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@NATIVE_LIBS@|$(NATIVE_LIBS)|' \
	    zeek-mgmt-agent.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/zeek-mgmt-agent.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(LIB).so $(DESTDIR)$(LIBDIR)/$(LIB).so.$(ABI) \
	      $(DESTDIR)$(LIBDIR)/$(LIB).so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB).a \
	      $(DESTDIR)$(INCLUDEDIR)/zeek_mgmt_agent.h $(DESTDIR)$(LIBDIR)/pkgconfig/zeek-mgmt-agent.pc

header:
	cbindgen --config cbindgen.toml --output include/zeek_mgmt_agent.h

# The examples against the build tree: dynamic (.so) and static (.a).
examples: build
	mkdir -p target/examples
	ln -sf $(LIB).so target/release/$(LIB).so.$(ABI)
	$(CC) -std=c11 $(WARN) -Iinclude examples/c/host.c -Ltarget/release -l:$(LIB).so \
	    -Wl,-rpath,$(CURDIR)/target/release -o target/examples/host-c
	$(CC) -std=c11 $(WARN) -Iinclude examples/c/host.c target/release/$(LIB).a $(NATIVE_LIBS) \
	    -o target/examples/host-c-static
	$(CXX) -std=c++17 $(WARN) -Iinclude examples/cpp/host.cpp -Ltarget/release -l:$(LIB).so \
	    -Wl,-rpath,$(CURDIR)/target/release -o target/examples/host-cpp
	$(CXX) -std=c++17 $(WARN) -Iinclude examples/cpp/host.cpp target/release/$(LIB).a $(NATIVE_LIBS) \
	    -o target/examples/host-cpp-static

# The examples under AddressSanitizer and UndefinedBehaviorSanitizer.
examples-asan: build
	mkdir -p target/examples
	ln -sf $(LIB).so target/release/$(LIB).so.$(ABI)
	$(CC) -std=c11 $(WARN) -g -fsanitize=address,undefined -fno-omit-frame-pointer -Iinclude examples/c/host.c \
	    -Ltarget/release -l:$(LIB).so -Wl,-rpath,$(CURDIR)/target/release -o target/examples/host-c-asan
	$(CXX) -std=c++17 $(WARN) -g -fsanitize=address,undefined -fno-omit-frame-pointer -Iinclude examples/cpp/host.cpp \
	    -Ltarget/release -l:$(LIB).so -Wl,-rpath,$(CURDIR)/target/release -o target/examples/host-cpp-asan

clean-examples:
	rm -rf target/examples
