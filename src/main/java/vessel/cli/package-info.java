/** The {@code vessel} command: argument parsing, terminal handling, logging set-up and exit codes. The only place that ends the process. */
package vessel.cli;
