{
  # node-gyp alternative to CMakeLists.txt (which `npm install` uses through cmake-js): the same
  # sources, defines and libtorch. The libtorch comes from scripts/libtorch.mjs, which only looks
  # ($LIBTORCH, what CMake would find, an earlier download) and never installs anything.
  "targets": [
    {
      "target_name": "torch_crossencoder",
      # Every .cc under native/ (one folder per layer), so a new source file needs no edit here.
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native', { recursive: true }).filter(f => f.endsWith('.cc')).sort().map(f => 'native/' + f).join(' ')\")"
      ],
      "include_dirs": [
        # native/ itself: sources include each other by layer, e.g. "formats/safetensors.h".
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/libtorch.mjs --gyp-include)"
      ],
      "libraries": [
        "<!@(node scripts/libtorch.mjs --gyp-libs)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        # native/distributed: c10d's ProcessGroupGloo is behind it (gloo headers: libgloo-dev).
        "USE_C10D_GLOO",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "_GLIBCXX_USE_CXX11_ABI=1"
      ],
      # node-gyp's defaults turn off exceptions and RTTI; libtorch's headers need both.
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      # The standard CMake compiles with (CMAKE_CXX_STANDARD 17, extensions on), pinned because
      # newer Node headers default to C++20.
      "cflags_cc": ["-std=gnu++17"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "gnu++17",
        "CLANG_CXX_LIBRARY": "libc++",
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      }
    }
  ]
}
