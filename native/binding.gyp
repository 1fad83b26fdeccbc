{
  "targets": [
    {
      "target_name": "dow_native",
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "src/addon.c",
            "src/addon-connections.c",
            "src/addon-events.c",
            "src/addon-listeners.c",
            "src/addon-napi.c",
            "src/addon-ring.c",
            "src/conn-machine.c",
            "src/head-reader.c",
            "src/id-table.c",
            "src/row-ring.c",
            "src/scgi-parse.c",
            "src/write-queue.c"
          ],
          "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-strict-aliasing"]
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
