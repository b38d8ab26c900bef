# Builds and installs the library like a C library:
#   make                          the release build (.so and .a)
#   make install PREFIX=/opt/zma  .so (SONAME with the ABI version), .a,
#                                 header and pkg-config files, stripped
#   make header                   regenerates include/zeek_mgmt_agent.h
#   make examples                 the C and C++ hosts, against target/release
# Then (README.md, "Using the library from C"):
#   cc host.c $(pkg-config --cflags --libs zeek-mgmt-agent)                   the .so
#   cc host.c $(pkg-config --cflags --libs --static zeek-mgmt-agent-static)   the .a
#
# Install variables:
#   PREFIX, LIBDIR, INCLUDEDIR, DESTDIR  where (DESTDIR for staged installs)
#   RPATH=no        leave -Wl,-rpath,<libdir> out of the .pc file (for a
#                   libdir the dynamic loader searches, e.g. packages to /usr)
#   INSTALL_STRIP=no  install the .so and .a with their debug information
#                   (else: strip --strip-unneeded the .so, --strip-debug the .a;
#                   STRIP and OBJCOPY name the programs)
#   DEBUG_FILE=yes  also install <libdir>/libzeek_mgmt_agent.so.<version>.debug
#                   (the .so's debug information; gdb finds it through the
#                   .so's .gnu_debuglink)
#   NO_BUILD=1      install what target/release holds without running cargo
#                   (sudo make install NO_BUILD=1, after make as yourself)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CARGO ?= cargo
CC ?= cc
CXX ?= c++
STRIP ?= strip
OBJCOPY ?= objcopy
RPATH ?= yes
INSTALL_STRIP ?= yes
DEBUG_FILE ?= no

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ABI := $(shell sed -n 's/^pub const ZMA_ABI_VERSION: u32 = \([0-9]*\);/\1/p' src/ffi.rs)
LIB := libzeek_mgmt_agent
# What the static library needs from the system (cargo rustc --print
# native-static-libs on Linux).
NATIVE_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
WARN := -Wall -Wextra -Werror -pedantic
COMMA := ,
# Libs of the two pkg-config files; $${libdir} is written as ${libdir}.
PC_LIBS_SHARED := -L$${libdir} $(if $(filter yes,$(RPATH)),-Wl$(COMMA)-rpath$(COMMA)$${libdir} )-lzeek_mgmt_agent
PC_LIBS_STATIC := $${libdir}/$(LIB).a
SO := $(DESTDIR)$(LIBDIR)/$(LIB).so.$(VERSION)
A := $(DESTDIR)$(LIBDIR)/$(LIB).a

.PHONY: all build install uninstall header examples examples-asan clean-examples

all: build

build:
	$(CARGO) build --release --lib

install: $(if $(NO_BUILD),,build)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 target/release/$(LIB).so $(SO)
	install -m 0644 target/release/$(LIB).a $(A)
	rm -f $(SO).debug
ifeq ($(DEBUG_FILE),yes)
	$(OBJCOPY) --only-keep-debug $(SO) $(SO).debug
	chmod 0644 $(SO).debug
endif
ifeq ($(INSTALL_STRIP),yes)
	$(STRIP) --strip-unneeded $(SO)
	$(STRIP) --strip-debug $(A)
endif
ifeq ($(DEBUG_FILE),yes)
	cd $(DESTDIR)$(LIBDIR) && $(OBJCOPY) --add-gnu-debuglink=$(LIB).so.$(VERSION).debug $(LIB).so.$(VERSION)
endif
	ln -sf $(LIB).so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB).so.$(ABI)
	ln -sf $(LIB).so.$(ABI) $(DESTDIR)$(LIBDIR)/$(LIB).so
	install -m 0644 include/zeek_mgmt_agent.h $(DESTDIR)$(INCLUDEDIR)/zeek_mgmt_agent.h
	$(call pc,zeek-mgmt-agent,,$(PC_LIBS_SHARED))
	$(call pc,zeek-mgmt-agent-static, (static library; link with pkg-config --static),$(PC_LIBS_STATIC))

# $(call pc,name,description suffix,libs): writes <name>.pc.
pc = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@NATIVE_LIBS@|$(NATIVE_LIBS)|' \
	    -e 's|@NAME@|$(1)|' -e 's|@DESCRIPTION@|$(2)|' -e 's|@LIBS@|$(3)|' \
	    zeek-mgmt-agent.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/$(1).pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(LIB).so $(DESTDIR)$(LIBDIR)/$(LIB).so.$(ABI) \
	      $(DESTDIR)$(LIBDIR)/$(LIB).so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB).a \
	      $(DESTDIR)$(LIBDIR)/$(LIB).so.$(VERSION).debug \
	      $(DESTDIR)$(INCLUDEDIR)/zeek_mgmt_agent.h $(DESTDIR)$(LIBDIR)/pkgconfig/zeek-mgmt-agent.pc \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/zeek-mgmt-agent-static.pc

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
