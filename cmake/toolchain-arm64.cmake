# Cross-compiles scanbridge for arm64 (Raspberry Pi 3/4/400/CM4, arm64 edge
# boxes) with Debian's aarch64-linux-gnu gcc against a Debian sysroot made by
# scripts/make-sysroot.sh (libwebsockets-dev cannot be co-installed for two
# architectures, so the target's -dev packages live in the sysroot).
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm64.cmake \
#         -DSB_SYSROOT=$PWD/sysroot-arm64
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(SB_TRIPLE aarch64-linux-gnu)

if(NOT SB_SYSROOT)
  set(SB_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../sysroot-arm64")
endif()
get_filename_component(SB_SYSROOT "${SB_SYSROOT}" ABSOLUTE)
# try_compile re-reads this file in a sub-project: hand it the same sysroot, or
# the pkg-config environment below would be reset to the default path.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SB_SYSROOT)

set(CMAKE_C_COMPILER ${SB_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${SB_TRIPLE}-g++)
set(CMAKE_SYSROOT ${SB_SYSROOT})
set(CMAKE_FIND_ROOT_PATH ${SB_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must read the sysroot's .pc files, never the build host's.
set(ENV{PKG_CONFIG_DIR} "")
set(ENV{PKG_CONFIG_LIBDIR} "${SB_SYSROOT}/usr/lib/${SB_TRIPLE}/pkgconfig:${SB_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${SB_SYSROOT}")

# ctest runs the unit tests through qemu-user.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;${SB_SYSROOT})
