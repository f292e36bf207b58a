# Turns a text file into a C source defining a NUL-terminated byte array.
# Usage: cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
file(READ "${IN}" content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," content "${content}")
get_filename_component(base "${IN}" NAME)
file(WRITE "${OUT}"
  "/* Generated from ${base} by cmake/embed.cmake: do not edit. */\n"
  "#include <stddef.h>\n"
  "extern const char ${NAME}[];\n"
  "const char ${NAME}[] = {${content} 0x00};\n")
