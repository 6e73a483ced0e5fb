# A tiny multivariate, variable-length problem for the parser tests.
@problemName Toy Variable
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
1,2,3:4,5,6:up

7,8:9,10:down
0.5:-0.5:up
