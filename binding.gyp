{
  "targets": [
    {
      "target_name": "offheap",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native/core').filter(f => f.endsWith('.cc')).map(f => 'native/core/' + f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/binding').filter(f => f.endsWith('.cc')).map(f => 'native/binding/' + f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2", "-O3"],
      "cflags_cc!": ["-std=gnu++17", "-std=c++17"],
      "cflags_cc": ["-std=c++20", "-O3", "-fvisibility=hidden", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-Wl,--exclude-libs,ALL"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++20",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "GCC_ENABLE_CPP_EXCEPTIONS": "NO"
      }
    }
  ]
}
