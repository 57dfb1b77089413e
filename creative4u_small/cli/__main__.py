from creative4u_small.cli import main

main()
