# SPDX-License-Identifier: MIT
# cmake -DSRC=<seed dir> -DDST=<build-tree dir> -P copy_corpus.cmake
# Replaces DST with a fresh copy of SRC, so a fuzz run under CTest starts from
# the checked-in seeds and writes what it finds into the build tree only.
if(NOT SRC OR NOT DST)
  message(FATAL_ERROR "usage: cmake -DSRC=dir -DDST=dir -P copy_corpus.cmake")
endif()
file(REMOVE_RECURSE ${DST})
file(MAKE_DIRECTORY ${DST})
file(COPY ${SRC}/ DESTINATION ${DST})
