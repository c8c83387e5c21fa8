module benchpull/server

go 1.26.0
